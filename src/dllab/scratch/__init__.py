"""Neural networks in plain NumPy, with every backward pass written by hand next to its forward pass.

>>> from dllab.scratch import layers, models, optim
>>> net = models.TwoLayerNet(784, 128, 10, rng=np.random.default_rng(0))
>>> loss, acc = net.forward(x, y)        # x (N, 784) float32, y (N,) int
>>> net.backward()                      # fills net.grads() by parameter name
>>> optim.SGD(net, lr=0.1, weight_decay=1e-3).step()
"""
