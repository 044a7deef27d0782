"""The data layer: vocabularies, the class hierarchy, image sets, label sets, predictions and the
public sources they are read from."""
