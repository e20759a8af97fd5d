"""Everything that speaks aiohttp.web. Nothing imports this package but pod.app."""
