"""Credit-repair applications: eligibility, the three reviews, SLA timers and the cascade (三(一))."""
