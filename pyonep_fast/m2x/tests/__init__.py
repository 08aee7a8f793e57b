"""m2x.tests: the helpers m2x 5.5.0's own tests import (spec m2x.md §1, §6)."""
