"""Everything is declared in pyproject.toml; this file only adds doit-scout's start-up hook and
the optional C extension doit_scout._ctracer (doit_scout.probes): without a compiler, pip installs
the rest and the pure-Python tracer runs instead.

doit parses pyproject.toml before it loads any plugin, so a file that is not valid TOML ends in a
traceback no command of ours can catch. `doit_scout-toml-guard.pth` (see runner/toml_guard.py)
goes to the root of site-packages, where the interpreter's start-up runs it, in a wheel and in an
editable install alike.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

STARTUP_HOOK = "doit_scout-toml-guard.pth"


class BuildPyWithStartupHook(build_py):
    def run(self) -> None:
        super().run()
        # A wheel is build_lib's content; an editable wheel ignores build_lib and is assembled from
        # the install command's install_lib folder (setuptools' editable_wheel sets it so).
        target = self.build_lib
        if getattr(self, "editable_mode", False):
            target = self.get_finalized_command("install").install_lib
        self.copy_file(STARTUP_HOOK, os.path.join(target, STARTUP_HOOK))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, STARTUP_HOOK)]


setup(
    cmdclass={"build_py": BuildPyWithStartupHook},
    ext_modules=[Extension("doit_scout._ctracer", ["runner/_ctracer.c"], optional=True)],
)
