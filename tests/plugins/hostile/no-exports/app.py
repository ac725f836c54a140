"""A component of the plugin-base world: it imports log and clock and exports nothing."""
