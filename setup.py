"""ar_ros: an ament_python ROS 2 package that also installs with plain pip (for ar_core alone)."""
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ar_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["ar_core", "ar_core.*", "ar_ros", "ar_ros.*"]),
    package_data={"ar_core": ["assets/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml") + glob("config/*.xml")),
        (f"share/{PACKAGE}/config/train", glob("config/train/*.yaml")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="ar_ros maintainers",
    maintainer_email="maintainers@ar-ros.dev",
    description="Activity recognition (X3D) for ROS 2",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [
            "ar-core = ar_core.cli:main",
            "activity_node = ar_ros.activity_node:main",
            "bag_replay = ar_ros.bag_replay:main",
        ],
        "ar_core.commands": [  # subcommands of `ar-core` that live outside ar_core
            "bag-replay = ar_ros.bag_replay:add_command",
        ],
    },
)
