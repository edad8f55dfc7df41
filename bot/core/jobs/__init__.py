"""The life of a job after admission: registry, scheduler, tracker, finisher, delivery, and the runtime loop."""
