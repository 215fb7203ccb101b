"""Each notebook's verdict texts and hints, one table per notebook (see ``engine.messages``)."""
