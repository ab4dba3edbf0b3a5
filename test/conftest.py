"""Session-wide settings: keep DDS traffic on this machine and away from other test runs."""
import os

# A domain of our own (0..101 are valid with the default port mapping) and discovery on loopback only.
os.environ.setdefault("ROS_DOMAIN_ID", str(os.getpid() % 90 + 10))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
