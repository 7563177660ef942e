"""Fuzzing: targets, a mutational engine, the atheris entry point and the crash corpus."""
