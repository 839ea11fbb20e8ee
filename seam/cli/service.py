"""`seam service install [--print] [--platform linux|macos]` and `seam service status`: run `seam watch` 24/7
(restarted on failure) with `seam heartbeat-check` every minute, as systemd user units or launchd agents."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from seam.cli.common import EXIT_NOT_OK, EXIT_OK, Subparsers, out, require_seam, seam_paths
from seam.monitor.service import ServiceFile, current_platform, service_files

__all__ = ["add_service", "cmd_service_install", "cmd_service_status"]


def add_service(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    service = sub.add_parser("service", parents=[common], help="run the daemon 24/7 (systemd user unit or launchd)")
    service_sub = service.add_subparsers(dest="service_command", metavar="ACTION", required=True)
    for action, helptext, func in (
        ("install", "write the service files (`--print` shows them instead)", cmd_service_install),
        ("status", "which service files are installed, and what the service manager says", cmd_service_status),
    ):
        p = service_sub.add_parser(action, parents=[common], help=helptext)
        p.add_argument("--platform", choices=("linux", "macos"), help="default: this machine's")
        if action == "install":
            p.add_argument("--print", dest="print_only", action="store_true", help="print the files, write nothing")
        p.set_defaults(func=func)


def _files(args: argparse.Namespace) -> list[ServiceFile]:
    paths = seam_paths(args)
    require_seam(paths)
    return service_files(paths.root, args.platform or current_platform(), Path.home())


def cmd_service_install(args: argparse.Namespace) -> int:
    files = _files(args)
    for file in files:
        if args.print_only:
            out.print(f"# {file.path}", markup=False)
            out.print(file.text, markup=False)
            continue
        file.path.parent.mkdir(parents=True, exist_ok=True)
        file.path.write_text(file.text, encoding="utf-8")
        out.print(f"wrote {file.path}", markup=False)
    if not args.print_only:
        out.print(_next_step(files, args.platform or current_platform()), markup=False)
    return EXIT_OK


def _next_step(files: list[ServiceFile], platform: str) -> str:
    if platform == "linux":
        units = " ".join(
            f.path.name for f in files if not f.path.name.startswith("seam-heartbeat-") or f.path.suffix == ".timer"
        )
        return f"to start them: systemctl --user daemon-reload && systemctl --user enable --now {units}"
    return "to start them: " + " && ".join(f"launchctl load {f.path}" for f in files)


def cmd_service_status(args: argparse.Namespace) -> int:
    files = _files(args)
    platform = args.platform or current_platform()
    missing = 0
    for file in files:
        installed = file.path.is_file()
        missing += not installed
        out.print(
            f"{file.path}: {'installed' if installed else 'not installed'}{_manager_says(file, platform)}", markup=False
        )
    return EXIT_OK if not missing else EXIT_NOT_OK


def _manager_says(file: ServiceFile, platform: str) -> str:
    """The service manager's word on one unit, when its tool is on this machine."""
    if platform == "linux" and file.path.suffix in (".service", ".timer") and shutil.which("systemctl"):
        command = ["systemctl", "--user", "is-active", file.path.name]
    elif platform == "macos" and shutil.which("launchctl"):
        command = ["launchctl", "list", file.path.name.removesuffix(".plist")]
    else:
        return ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f" ({command[0]}: {exc})"
    answer = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return f" ({command[0]}: {answer[0] if answer else done.returncode})"
