"""Small talk: which social act a line is (a greeting, thanks, "who are you?") and the reply to it.

The intent step finds the act by meaning (the closest exemplar below, by MiniLM); the reply is
the agent's own, about itself from its state (name, what it can do), never a model's guess.
"""
from __future__ import annotations

from typing import Callable

# act → exemplars (lower case, no punctuation): what people say for it.
EXEMPLARS: dict[str, tuple[str, ...]] = {
    "greeting": ("hello", "hi there", "hey", "good morning", "good afternoon", "good evening", "hiya",
                 "hello robot", "hey how's it going"),
    "how_are_you": ("how are you", "how is it going", "how are you doing", "how's your day", "are you okay",
                    "how do you feel"),
    "thanks": ("thanks", "thank you", "thank you very much", "thanks a lot", "cheers", "much appreciated"),
    "praise": ("great job", "well done", "nice work", "good job", "awesome", "that's great", "perfect",
               "you did great", "cool"),
    "farewell": ("goodbye", "bye", "see you later", "good night", "talk to you later", "that's all for now"),
    "meeting": ("nice to meet you", "pleased to meet you", "glad to meet you", "good to meet you"),
    "identity": ("who are you", "what are you", "are you a robot", "are you human", "are you a person",
                 "tell me something about you", "introduce yourself", "who built you", "who created you",
                 "where do you come from"),
    "feelings": ("do you enjoy this", "are you happy", "do you like working here", "do you have feelings",
                 "are you bored", "do you like what you do"),
    "attention": ("are you listening", "can you hear me", "are you there", "do you hear me", "hello are you awake"),
    "abilities": ("what can you do", "what are you able to do", "how can you help me", "what are your skills",
                  "what are you good at", "what tasks can you do", "what can i ask you to do"),
}

ABOUT_ME = ("identity", "abilities", "meeting")  # acts answered with what the agent is and can do


def reply(act: str, introduce: Callable[[], str], capabilities: Callable[[], str]) -> str:
    """What the agent says to a social act; "" for an act it does not know."""
    if act == "identity":
        return introduce() + " I was built by the SEAL project, and I run on this robot."
    if act == "abilities":
        return capabilities()
    if act == "meeting":
        return "Nice to meet you too! " + introduce()
    return {
        "greeting": "Hello! What can I do for you?",
        "how_are_you": "I'm doing well, thanks. Ready when you are.",
        "thanks": "You're welcome!",
        "praise": "Thank you! Anything else?",
        "farewell": "Goodbye! Call me when you need me.",
        "feelings": "I like being useful. What can I do for you?",
        "attention": "Yes, I'm listening. What can I do for you?",
    }.get(act, "")
