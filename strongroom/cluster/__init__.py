"""Several processes of one server: the keeper, its workers, and what keeps their state one."""
