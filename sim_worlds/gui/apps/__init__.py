"""Seeded multi-page web apps for skill learning: ``weather`` (about 8 steps) and ``booking``
(30+ steps with a judgement: the cheapest or the earliest flight), served on 127.0.0.1.

``server.AppServer`` serves one app (seed, injected changes) and reports what was done (/state);
``tasks`` holds the tasks and their success checks; ``page.PlaywrightPage`` drives a tab in
Debian's Chromium through Playwright, by anchors (role + accessible name, label, data-testid);
``teacher.next_step`` is the scripted model: the next step from the page and the task.
"""
