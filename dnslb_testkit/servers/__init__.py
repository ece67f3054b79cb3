"""Real DNS servers for tests, each started as a child process on 127.0.0.1 and stopped by PID."""
