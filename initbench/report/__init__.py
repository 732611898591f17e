"""Self-contained HTML reports (the quickstart's): tables, image grids as embedded PNG, loss curves as SVG."""
