"""Face geometry: landmark schemes, AU centres and landmark attention maps."""
