"""placeholder"""

import sys
import time


class ProgressBar:
    """A one-line text progress bar on standard error.

    On a terminal it redraws in place (at most every 0.1 s); elsewhere (a
    log file, a pipe) it writes one finished line when closed, so logs stay
    readable.  ``enabled=False`` makes it silent.
    """

    def __init__(self, total, label="", width=30, stream=None, enabled=True):
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interactive = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.count = 0
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._drawn = False

    def _line(self):
        filled = int(self.width * self.count / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        return "%s [%s] %d/%d %.1fs" % (self.label, bar, self.count, self.total, time.perf_counter() - self.start)

    def update(self, count=None):
        """Set the progress to ``count`` (default: one more)."""
        self.count = self.count + 1 if count is None else count
        if self.interactive:
            now = time.perf_counter()
            if now - self._last_draw >= 0.1 or self.count >= self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line())
                self.stream.flush()
                self._drawn = True

    def clear(self):
        """Erase the bar on a terminal, so that a line can be printed."""
        if self.interactive and self._drawn:
            self.stream.write("\r" + " " * len(self._line()) + "\r")
            self.stream.flush()
            self._drawn = False

    def close(self):
        """Finish the line."""
        if not self.enabled:
            return
        if self.interactive:
            self.stream.write("\r" + self._line() + "\n")
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()
        self.enabled = self.interactive = False
