"""The job queue's workers: claim a job, run its handler, record done or failed."""
