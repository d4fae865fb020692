"""Vietnamese text: one normaliser for documents and queries, and underthesea segmentation."""
