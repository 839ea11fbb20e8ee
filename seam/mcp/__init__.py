"""The MCP server stage: the seam's kinds as MCP tools, sent through `seam.client` like any other intent.

    host.py       who answers: the daemon already on the seam, or one run in this process
    tools.py      one tool per kind; parameters from the payload models; answers as structured content + markdown
    resources.py  seam://responses/{id}, schemas/{kind}, runbooks/{id}, status, proposals/pending
    prompts.py    briefing, signal_from_setup, why_rejected
    panel.py      the MCP Apps approval panel (ui://seam/approval, its app-only decide tool), for clients with Apps
    panel_page.py the panel's HTML
    server.py     build_server, serve_stdio, serve_http
    http.py       the Host/Origin and bearer token guard in front of streamable HTTP
    install.py    the Claude Desktop entry
    bundle.py     the Desktop Extension (.mcpb, manifest 0.3)

Import from the modules themselves: this package imports nothing, so `seam mcp install` starts without the SDK.
"""
