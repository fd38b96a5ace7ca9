"""Language models behind the thinker: one streaming interface, several backends.

``base`` defines the interface (``LanguageModel.start(prompt) -> Generation``) and the prompt
the thinker builds; each backend module turns a ``Prompt`` into its own request and streams
text pieces back. ``registry.make_model`` builds one by name.
"""
