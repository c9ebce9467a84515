"""Pages of the workcalendar app."""
