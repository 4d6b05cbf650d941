"""Non-widget QObjects that own clients, faults and sessions and report through signals."""
