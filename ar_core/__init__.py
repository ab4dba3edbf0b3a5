"""ar_core: X3D activity recognition without ROS: models, data, training, export and runtimes."""
__version__ = "0.1.0"
