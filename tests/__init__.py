from . import test_install as test_install
from . import test_ui as test_ui
