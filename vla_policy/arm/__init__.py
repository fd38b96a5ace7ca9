"""The arm's vision-language-action policy: runtime, model, data and training."""
