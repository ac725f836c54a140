"""The sim backend: register-level device simulators on a virtual clock (docs/hal.md)."""
