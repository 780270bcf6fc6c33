"""`rsdfm` subcommands that need rclpy; rsdfm_core.cli imports them only when used."""
