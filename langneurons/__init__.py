"""langneurons: find, test and use language-specific neurons in decoder LLMs.

Reproduces and extends Tang et al., "Language-Specific Neurons: The Key to
Multilingual Capabilities in Large Language Models" (ACL 2024).
"""

__version__ = "0.1.0"
