"""The flight recorder's reading side: a recording (MCAP) as an episode, a page and a diagnosis.

``reader`` decodes the channels the stack records into plain records, ``schema`` knows every
event type's payload and how to say it in a line, ``episode`` groups the records into turns and
actions, ``page`` writes the self-contained HTML trace and ``diagnose`` finds what went wrong.
"""
