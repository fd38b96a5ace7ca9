"""Vision-language-action policy for the Manipulate action: backends, safety, runtime (ROS-free)."""
