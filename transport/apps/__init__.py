"""The jobs built on the clients: probe, compare, storm, scenario, policy race, fault runner, lab admin."""
