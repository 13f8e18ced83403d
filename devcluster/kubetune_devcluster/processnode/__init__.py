"""The process node: a stand-in for the kubelet that runs each bound pod's containers as local processes.

``node`` registers the Node and watches pods, ``pods`` supervises one pod, ``containers`` builds a container's
process, ``volumes`` materialises volumes, ``launch`` runs inside the pod's mount namespace, and ``provisioner``
binds PersistentVolumeClaims to directories. No Kubernetes objects other than the node's own are created here.
"""
