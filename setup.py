"""Package discovery only; everything else is in pyproject.toml.

pyproject's ``packages.find`` cannot add a package that lives outside the tree it searches, and the
wheel needs one: the top-level ``prompts/`` folder becomes ``salam._assets``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["salam", "salam.*"]), "salam._assets"],
    package_dir={"salam._assets": "prompts"},
)
