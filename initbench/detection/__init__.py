"""Detection with (translated) data: COCO sets checked and read (``coco_data``), torchvision detectors and their
fingerprint (``detector``), training (``train``), COCOeval scoring (``evaluate``), the benchmark (``benchmark``)."""
