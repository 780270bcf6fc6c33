"""ROS-side tools of rsdfm: graph runner, bag replay and recorder, demo (subcommands of `rsdfm`)."""
