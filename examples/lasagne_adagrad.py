"""Training a Lasagne-style MLP with AdaGrad, in plain PyTensor + symupdates.

The seed program builds, with Lasagne, a network of 784 inputs, a dense
layer of 50 units and a 10-way softmax, takes the mean categorical
cross-entropy, and trains it on random data with
``lasagne.updates.adagrad(loss, params, learning_rate)``.  Here the same
network is written without Lasagne, with Lasagne's defaults spelled out:

* ``DenseLayer(num_units=50)``: weights ``GlorotUniform()`` (uniform in
  ``+-sqrt(6 / (fan_in + fan_out))``), biases ``Constant(0.)``,
  nonlinearity ``rectify``;
* the output ``DenseLayer`` with ``nonlinearity=softmax``;
* ``categorical_crossentropy(prediction, target).mean()``.

Porting the update is an import change: ``lasagne.updates.adagrad`` ->
``symupdates.adagrad``.  The random data and initial weights come from
NumPy's global generator (Lasagne's default), seeded here so that a run is
reproducible.

    python examples/lasagne_adagrad.py [--epochs 10] [--seed 0]
"""

import argparse
import os
import sys

import numpy as np
import pytensor
import pytensor.tensor as pt

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import symupdates  # noqa: E402


def glorot_uniform(fan_in, fan_out):
    """Lasagne's ``GlorotUniform()`` for a dense layer's weights (gain 1)."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.uniform(-limit, limit, size=(fan_in, fan_out)).astype(pytensor.config.floatX)


def dense_layer(num_inputs, num_units, name):
    """The parameters of a Lasagne ``DenseLayer``: ``W`` (Glorot uniform) and ``b`` (zeros)."""
    W = pytensor.shared(glorot_uniform(num_inputs, num_units), name=name + ".W")
    b = pytensor.shared(np.zeros(num_units, dtype=pytensor.config.floatX), name=name + ".b")
    return W, b


def build_model(input_var, input_dim, output_dim):
    """784 -> dense(50, rectify) -> dense(output_dim, softmax); returns (prediction, params)."""
    W1, b1 = dense_layer(input_dim, 50, "hidden")
    W2, b2 = dense_layer(50, output_dim, "output")
    hidden = pt.maximum(pt.dot(input_var, W1) + b1, 0)  # rectify
    prediction = pt.special.softmax(pt.dot(hidden, W2) + b2, axis=-1)
    return prediction, [W1, b1, W2, b2]


def categorical_crossentropy(prediction, target_var):
    """Lasagne's categorical cross-entropy for integer targets, per example."""
    return -pt.log(prediction[pt.arange(target_var.shape[0]), target_var])


def main(argv=None):
    parser = argparse.ArgumentParser(description="The seed's Lasagne MLP trained with symupdates.adagrad")
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10, as the seed)")
    parser.add_argument("--learning-rate", type=float, default=0.01, help="AdaGrad learning rate (default 0.01)")
    parser.add_argument("--seed", type=int, default=0, help="seed of NumPy's generator (weights and data)")
    args = parser.parse_args(argv)
    np.random.seed(args.seed)

    input_dim = 784
    output_dim = 10
    input_var = pt.matrix("input_var")
    target_var = pt.ivector("target_var")
    prediction, params = build_model(input_var, input_dim, output_dim)
    loss = categorical_crossentropy(prediction, target_var).mean()

    updates = symupdates.adagrad(loss, params, args.learning_rate)
    train_fn = pytensor.function([input_var, target_var], loss, updates=updates)

    X_train = np.random.randn(100, input_dim).astype(pytensor.config.floatX)
    y_train = np.random.randint(output_dim, size=100).astype("int32")

    for epoch in range(args.epochs):
        loss_value = train_fn(X_train, y_train)
        print("Epoch %d: Loss = %.5f" % (epoch + 1, loss_value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
