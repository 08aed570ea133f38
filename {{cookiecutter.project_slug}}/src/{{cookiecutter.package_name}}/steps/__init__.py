"""The saga's steps, one module each: ``execute`` and, when the step can be undone, its compensation."""
