"""Developer stack: the embedded broker and database, topic creation and service processes."""
