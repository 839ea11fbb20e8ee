"""`seam mcp`: the MCP server on this seam (stdio, or --http); `seam mcp install`: the Claude Desktop entry;
`seam mcp bundle`: the same as a Desktop Extension (.mcpb).

The MCP SDK is imported only when the server runs: every other command starts without it.
"""

from __future__ import annotations

import argparse
import json
import logging

from seam.cli.common import EXIT_OK, Subparsers, clock, err, load, out, require_seam, seam_paths, setup_logging
from seam.errors import ConfigError

__all__ = ["DEFAULT_PORT", "add_mcp", "cmd_mcp", "cmd_mcp_bundle", "cmd_mcp_install"]

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8765


def add_mcp(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "mcp",
        parents=[common],
        help="run the MCP server (stdio; --http for streamable HTTP), or install it into Claude Desktop",
        description="Serve the seam over MCP. With no daemon on the seam it runs one in this process and stops it "
        "on exit; with `seam watch` running it is only that daemon's client.",
    )
    p.add_argument("--http", action="store_true", help="serve streamable HTTP at /mcp instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port with --http (default {DEFAULT_PORT})")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.set_defaults(func=cmd_mcp)
    actions = p.add_subparsers(dest="mcp_command", metavar="ACTION")
    install = actions.add_parser(
        "install", parents=[common], help="write the seam entry into Claude Desktop's claude_desktop_config.json"
    )
    install.add_argument("--print", action="store_true", help="print the entry instead of writing the file")
    install.add_argument("--name", default="seam", help="the server's name in mcpServers (default seam)")
    install.set_defaults(func=cmd_mcp_install)
    bundle = actions.add_parser(
        "bundle",
        parents=[common],
        help="build a Claude Desktop Extension (.mcpb) that runs `seam mcp` on this seam with this Python",
    )
    bundle.add_argument("--out", default="seam.mcpb", help="the .mcpb file to write (default ./seam.mcpb)")
    bundle.add_argument("--dir", help="write the bundle's folder here instead (for `mcpb pack DIR`)")
    bundle.set_defaults(func=cmd_mcp_bundle)


def cmd_mcp(args: argparse.Namespace) -> int:
    paths = seam_paths(args)
    require_seam(paths)
    config = load(paths, {"log.level": args.log_level})
    setup_logging(config.settings.log.level, config.secrets)  # stderr only: on stdio, stdout is the protocol
    if not args.http:
        from seam.mcp.server import serve_stdio

        serve_stdio(paths, config, clock=clock())
        return EXIT_OK
    from seam.mcp.http import MIN_TOKEN_CHARS, is_loopback

    token = config.secrets.mcp_token.get_secret_value() if config.secrets.mcp_token else ""
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            "SEAM_MCP_TOKEN",
            f"--http needs a bearer token of at least {MIN_TOKEN_CHARS} characters in SEAM_MCP_TOKEN "
            "(the environment or the seam's .env); e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`",
        )
    if not is_loopback(args.host):
        logger.warning("serving MCP on %s, which is not a loopback address: put TLS in front of it", args.host)
    from seam.mcp.server import serve_http

    serve_http(paths, config, clock=clock(), host_name=args.host, port=args.port, token=token)
    return EXIT_OK


def cmd_mcp_install(args: argparse.Namespace) -> int:
    from seam.mcp.install import config_path, install_entry, server_entry, write_entry

    paths = seam_paths(args)
    require_seam(paths)
    folders = f"{paths.intents} and {paths.responses}"
    if args.print:
        print(json.dumps(install_entry(args.name, paths), indent=2))
        err.print(
            f"Add it under mcpServers in {config_path()}. If Claude also has a filesystem server, allow it {folders} "
            "only.",
            markup=False,
        )
        return EXIT_OK
    installed = write_entry(config_path(), args.name, server_entry(paths))
    out.print(
        f"{'updated' if installed.replaced else 'added'} mcpServers.{args.name} in {installed.path}", markup=False
    )
    if installed.backup is not None:
        out.print(f"the previous file is kept as {installed.backup}", markup=False)
    out.print(
        f"Restart Claude Desktop to load it. A filesystem server, if you use one, needs only {folders}.", markup=False
    )
    return EXIT_OK


def cmd_mcp_bundle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seam.mcp.bundle import build_bundle, write_bundle_dir

    paths = seam_paths(args)
    require_seam(paths)
    if args.dir:
        folder = write_bundle_dir(Path(args.dir), paths.root)
        out.print(
            f"wrote the bundle's folder {folder}; pack it with `npx @anthropic-ai/mcpb pack {folder}`", markup=False
        )
        return EXIT_OK
    written = build_bundle(Path(args.out), paths)
    out.print(
        f"wrote {written}: open it with Claude Desktop (Settings > Extensions) to install; it asks for the seam "
        f"folder (default {paths.root}) and the Python seam is installed in.",
        markup=False,
    )
    return EXIT_OK
