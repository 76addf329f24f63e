"""Success rates of policies on courses: the episodes' outcomes and the table a reader compares."""
