"""Tool use. bfcl/: BFCL's AST checker and item format (a leaf library)."""
