"""Driver actions: one function per OpenNebula action, grouped by driver family."""
