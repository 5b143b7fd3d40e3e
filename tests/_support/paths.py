"""Where things are, so a test file can move in the tree without its paths breaking."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
PLATFORM_DATA = TESTS / "data" / "platforms"
GOLDEN = TESTS / "golden"
DEMO_PEOPLE_CSV = ROOT / "bot" / "cli" / "demo" / "people.csv"
EXAMPLE_CONFIG = ROOT / "config.example.toml"
