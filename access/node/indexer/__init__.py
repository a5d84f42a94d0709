"""The node-side indexer: reads DICOM headers where the images are (a folder, or an Orthanc's
REST API), applies the node's de-identification gate (:mod:`access.node.deid`) and sends the
portal only the header index, as the node (``python3 -m access.node.indexer``, see
:mod:`.cli` and docs/node.md).

The only part of the node package that may import pydicom (Debian's python3-pydicom), in
:mod:`.reader`.
"""
