"""network3.py, ported to Python 3, PyTensor and symupdates.

Michael Nielsen's Theano program from chapter 6 of *Neural Networks and
Deep Learning* (http://neuralnetworksanddeeplearning.com/chap6.html):
fully connected, convolutional + max-pooling and softmax layers, dropout,
L2 regularisation, mini-batch training with per-epoch validation and test
accuracy.  What changed in the port:

* Python 3 (``range``, ``//``, ``pickle`` with ``encoding="latin1"`` for
  the Python 2 ``mnist.pkl.gz``), PyTensor in place of Theano; it runs on
  PyTensor 3 and on 2.38, PyMC's line.
* Convolution and pooling.  PyTensor has no ``conv2d`` and no pooling, so
  ``conv2d_valid`` gathers every image patch with one constant index
  ("im2col") and multiplies the patches by the filter matrix: a "valid"
  cross-correlation, ``out[n, f, i, j] = sum_{c,u,v} image[n, c, i+u, j+v]
  * w[f, c, u, v]``.  Theano's ``conv2d`` flips the filters (a true
  convolution), so weights trained by the original need
  ``w[:, :, ::-1, ::-1]`` here.  ``max_pool_2d`` pools by a reshape and a
  ``max``.  PyTensor differentiates both as usual.
* The softmax is taken over the class axis (``softmax(..., axis=-1)``):
  PyTensor's default normalises over all elements.
* Dropout draws its masks from a NumPy ``Generator`` in a shared
  variable; its next state is in the training function's updates (``draw``
  hides how PyTensor 3 and 2.38 return it), since PyTensor no longer
  advances random streams by itself.
* ``Network.SGD`` takes ``momentum=`` (classical momentum through
  :func:`symupdates.momentum`) and ``rule=`` (any rule of
  ``symupdates.RULES`` by name, with ``rule_options`` for its other
  hyperparameters); ``eta`` is always the learning rate.  Without either
  it is plain SGD, as in the original.
* The data: scikit-learn's bundled 8x8 digits by default (no download),
  or MNIST from network3's ``mnist.pkl.gz`` when a path is given.  A tqdm
  progress bar on standard error shows the mini-batches of each epoch
  (``--no-progress`` turns it off).

Run ``python examples/network3.py --help`` for the options; the default
run (a small convolutional net on the bundled digits) is the project's
main job.
"""

import argparse
import gzip
import os
import pickle
import sys
import time

import numpy as np
import pytensor
import pytensor.tensor as pt

from tqdm import tqdm

import symupdates

floatX = pytensor.config.floatX


#### Activation functions for neurons
def linear(z):
    return z


def ReLU(z):
    return pt.maximum(0.0, z)


sigmoid = pt.sigmoid
tanh = pt.tanh
ACTIVATIONS = {"linear": linear, "ReLU": ReLU, "sigmoid": sigmoid, "tanh": tanh}

#: Seeds numpy's global generator for weight initialisation and the dropout streams.
SEED = 0


#### Load the data
def shared(data):
    """Place a ``(x, y)`` pair into shared variables (x in floatX, y as int32)."""
    shared_x = pytensor.shared(np.asarray(data[0], dtype=floatX), borrow=True)
    shared_y = pytensor.shared(np.asarray(data[1], dtype=floatX), borrow=True)
    return shared_x, pt.cast(shared_y, "int32")


def load_data(filename="../data/mnist.pkl.gz"):
    """MNIST from network3's ``mnist.pkl.gz``, as NumPy arrays: training, validation, test.

    The file is a gzipped Python 2 pickle of three ``(images, labels)``
    pairs, images as rows of 784 floats in [0, 1].
    """
    with gzip.open(filename, "rb") as f:
        return list(pickle.load(f, encoding="latin1"))


def load_data_shared(filename="../data/mnist.pkl.gz"):
    """MNIST from ``mnist.pkl.gz`` in shared variables, as network3 loads it."""
    return [shared(data) for data in load_data(filename)]


def load_digits(validation_size=300, test_size=300, seed=0):
    """scikit-learn's bundled 8x8 digits (1797 images), split like MNIST.

    Pixels are scaled from 0..16 to [0, 1]; the images are shuffled with a
    fixed seed, then split into training, validation and test sets.
    """
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    order = np.random.RandomState(seed).permutation(len(digits.target))
    x, y = digits.data[order] / 16.0, digits.target[order]
    n_train = len(y) - validation_size - test_size
    bounds = [(0, n_train), (n_train, n_train + validation_size), (n_train + validation_size, len(y))]
    return [(x[a:b], y[a:b]) for a, b in bounds]


def load_digits_shared(validation_size=300, test_size=300, seed=0):
    """The bundled digits in shared variables (see :func:`load_digits`)."""
    return [shared(data) for data in load_digits(validation_size, test_size, seed)]


#### Main class used to construct and train networks
class Network:
    #: ``--data-parallel``: the MPI communicator whose processes share each mini-batch
    comm = None

    def __init__(self, layers, mini_batch_size):
        """Takes a list of `layers`, describing the network architecture, and
        a value for the `mini_batch_size` to be used during training.
        """
        self.layers = layers
        self.mini_batch_size = mini_batch_size
        self.params = [param for layer in self.layers for param in layer.params]
        self.x = pt.matrix("x")
        self.y = pt.ivector("y")
        init_layer = self.layers[0]
        init_layer.set_inpt(self.x, self.x, self.mini_batch_size)
        for j in range(1, len(self.layers)):
            prev_layer, layer = self.layers[j - 1], self.layers[j]
            layer.set_inpt(prev_layer.output, prev_layer.output_dropout, self.mini_batch_size)
        self.output = self.layers[-1].output
        self.output_dropout = self.layers[-1].output_dropout

    def updates(self, cost, eta, momentum=None, rule=None, rule_options=None):
        """The symupdates updates for ``cost``: SGD, momentum, or a rule by name."""
        rule_options = dict(rule_options or {})
        if rule is None:
            rule = "sgd" if momentum is None else "momentum"
        if rule not in symupdates.RULES:
            raise ValueError("unknown rule %r; choose one of: %s" % (rule, ", ".join(symupdates.RULES)))
        if momentum is not None:
            if rule not in ("momentum", "nesterov_momentum"):
                raise ValueError("momentum= goes with rule 'momentum' or 'nesterov_momentum', not %r" % rule)
            rule_options["momentum"] = momentum
        if self.comm is not None:  # gradients averaged over the processes inside the step
            from symupdates.distributed import data_parallel

            def local_rule(loss, params):
                return symupdates.RULES[rule](loss, params, eta, **rule_options)

            return data_parallel(local_rule, comm=self.comm)(cost, self.params)
        return symupdates.RULES[rule](cost, self.params, eta, **rule_options)

    def SGD(self, training_data, epochs, mini_batch_size, eta, validation_data, test_data,
            lmbda=0.0, momentum=None, rule=None, rule_options=None, progress=True):
        """Train the network using mini-batch stochastic gradient descent.

        ``momentum`` adds classical momentum (``symupdates.momentum``);
        ``rule`` names any rule of ``symupdates.RULES`` (``"adam"``,
        ``"nesterov_momentum"``, ...), with ``eta`` as its learning rate and
        ``rule_options`` its other hyperparameters.  Returns the best
        validation accuracy and the corresponding test accuracy.
        """
        training_x, training_y = training_data
        validation_x, validation_y = validation_data
        test_x, test_y = test_data

        # --data-parallel: each process takes its slice of every mini-batch (self.mini_batch_size each)
        ranks, rank = (1, 0) if self.comm is None else (self.comm.Get_size(), self.comm.Get_rank())
        # compute number of minibatches for training, validation and testing
        num_training_batches = size(training_data) // mini_batch_size
        num_validation_batches = size(validation_data) // mini_batch_size
        num_test_batches = size(test_data) // mini_batch_size

        # define the (regularized) cost function, and its updates
        l2_norm_squared = sum([(layer.w**2).sum() for layer in self.layers])
        cost = self.layers[-1].cost(self) + 0.5 * lmbda * l2_norm_squared / num_training_batches
        updates = self.updates(cost, eta, momentum, rule, rule_options)
        for layer in self.layers:  # advance the dropout generators at each step
            dropped = getattr(layer, "inpt_dropout", None)
            updates.update(getattr(getattr(dropped, "tag", None), "rng_updates", []))

        # define functions to train a mini-batch, and to compute the
        # accuracy in validation and test mini-batches.
        i = pt.lscalar()  # mini-batch index
        batch = slice(i * self.mini_batch_size, (i + 1) * self.mini_batch_size)
        own = slice((i * ranks + rank) * self.mini_batch_size, (i * ranks + rank + 1) * self.mini_batch_size)
        train_mb = pytensor.function(
            [i], cost, updates=updates, givens={self.x: training_x[own], self.y: training_y[own]}
        )
        validate_mb_accuracy = pytensor.function(
            [i], self.layers[-1].accuracy(self.y),
            givens={self.x: validation_x[batch], self.y: validation_y[batch]},
        )
        test_mb_accuracy = pytensor.function(
            [i], self.layers[-1].accuracy(self.y), givens={self.x: test_x[batch], self.y: test_y[batch]}
        )
        # compiled on first use: training never calls it, and compiling costs seconds
        self.test_mb_predictions = _compile_on_first_call(
            lambda: pytensor.function([i], self.layers[-1].y_out, givens={self.x: test_x[batch]})
        )
        # Do the actual training
        best_validation_accuracy = 0.0
        best_iteration = 0
        test_accuracy = 0.0
        for epoch in range(epochs):
            bar = tqdm(total=num_training_batches, desc="epoch %d" % epoch, file=sys.stderr, disable=not progress)
            for minibatch_index in range(num_training_batches):
                iteration = num_training_batches * epoch + minibatch_index
                if iteration % 1000 == 0:
                    bar.write("Training mini-batch number {0}".format(iteration), file=sys.stdout)
                    sys.stdout.flush()
                train_mb(minibatch_index)
                bar.update()
                if (iteration + 1) % num_training_batches == 0:
                    bar.close()
                    validation_accuracy = np.mean([validate_mb_accuracy(j) for j in range(num_validation_batches * ranks)])
                    print("Epoch {0}: validation accuracy {1:.2%}".format(epoch, validation_accuracy))
                    if validation_accuracy >= best_validation_accuracy:
                        print("This is the best validation accuracy to date.")
                        best_validation_accuracy = validation_accuracy
                        best_iteration = iteration
                        if test_data:
                            test_accuracy = np.mean([test_mb_accuracy(j) for j in range(num_test_batches * ranks)])
                            print("The corresponding test accuracy is {0:.2%}".format(test_accuracy))
                    sys.stdout.flush()
        print("Finished training network.")
        print(
            "Best validation accuracy of {0:.2%} obtained at iteration {1}".format(
                best_validation_accuracy, best_iteration
            )
        )
        print("Corresponding test accuracy of {0:.2%}".format(test_accuracy))
        return best_validation_accuracy, test_accuracy


#### Define layer types
def conv2d_valid(inpt, filters, image_shape, filter_shape):
    """'Valid' 2-D convolution (cross-correlation, as in every deep-learning library):
    ``(batch, channels, h, w) x (filters, channels, fh, fw) -> (batch, filters, h-fh+1, w-fw+1)``.

    Written as one gather (the image patches, "im2col", by a constant index)
    and one matrix product: few nodes, so the graph and its gradient
    compile fast on every backend.
    """
    batch, channels, height, width = image_shape
    n_filters, _, fh, fw = filter_shape
    out_h, out_w = height - fh + 1, width - fw + 1
    pixel = np.arange(channels * height * width).reshape(channels, height, width)
    patch_index = np.stack(
        [pixel[:, r:r + fh, c:c + fw].ravel() for r in range(out_h) for c in range(out_w)]
    ).ravel()  # (out_h*out_w) patches of (channels*fh*fw) pixels each
    patches = inpt.reshape((batch, channels * height * width))[:, patch_index]
    patches = patches.reshape((batch * out_h * out_w, channels * fh * fw))
    out = pt.dot(patches, filters.reshape((n_filters, channels * fh * fw)).T)
    return out.reshape((batch, out_h, out_w, n_filters)).dimshuffle(0, 3, 1, 2)


def max_pool_2d(inpt, poolsize):
    """Non-overlapping max pooling, ignoring a border that does not fill a pool."""
    ph, pw = poolsize
    h, w = inpt.shape[2] // ph, inpt.shape[3] // pw
    cropped = inpt[:, :, : h * ph, : w * pw]
    return cropped.reshape((inpt.shape[0], inpt.shape[1], h, ph, w, pw)).max(axis=(3, 5))


class ConvPoolLayer:
    """A convolutional layer followed by max-pooling: combined because they are
    always used together here, which keeps the code simple.
    """

    def __init__(self, filter_shape, image_shape, poolsize=(2, 2), activation_fn=sigmoid):
        """`filter_shape`: (number of filters, input feature maps, filter height,
        filter width).  `image_shape`: (mini-batch size, input feature maps, image
        height, image width).  `poolsize`: the y and x pooling sizes.
        """
        self.filter_shape = filter_shape
        self.image_shape = image_shape
        self.poolsize = poolsize
        self.activation_fn = activation_fn
        # initialize weights and biases
        n_out = filter_shape[0] * np.prod(filter_shape[2:]) / np.prod(poolsize)
        self.w = pytensor.shared(
            np.asarray(np.random.normal(loc=0, scale=np.sqrt(1.0 / n_out), size=filter_shape), dtype=floatX),
            name="w", borrow=True,
        )
        self.b = pytensor.shared(
            np.asarray(np.random.normal(loc=0, scale=1.0, size=(filter_shape[0],)), dtype=floatX),
            name="b", borrow=True,
        )
        self.params = [self.w, self.b]

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size):
        self.inpt = inpt.reshape(self.image_shape)
        conv_out = conv2d_valid(self.inpt, self.w, self.image_shape, self.filter_shape)
        pooled_out = max_pool_2d(conv_out, self.poolsize)
        self.output = self.activation_fn(pooled_out + self.b.dimshuffle("x", 0, "x", "x"))
        self.output_dropout = self.output  # no dropout in the convolutional layers


class FullyConnectedLayer:
    def __init__(self, n_in, n_out, activation_fn=sigmoid, p_dropout=0.0):
        self.n_in = n_in
        self.n_out = n_out
        self.activation_fn = activation_fn
        self.p_dropout = p_dropout
        # Initialize weights and biases
        self.w = pytensor.shared(
            np.asarray(np.random.normal(loc=0.0, scale=np.sqrt(1.0 / n_out), size=(n_in, n_out)), dtype=floatX),
            name="w", borrow=True,
        )
        self.b = pytensor.shared(
            np.asarray(np.random.normal(loc=0.0, scale=1.0, size=(n_out,)), dtype=floatX), name="b", borrow=True
        )
        self.params = [self.w, self.b]

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size):
        self.inpt = inpt.reshape((mini_batch_size, self.n_in))
        self.output = self.activation_fn((1 - self.p_dropout) * pt.dot(self.inpt, self.w) + self.b)
        self.y_out = pt.argmax(self.output, axis=1)
        self.inpt_dropout = dropout_layer(inpt_dropout.reshape((mini_batch_size, self.n_in)), self.p_dropout)
        self.output_dropout = self.activation_fn(pt.dot(self.inpt_dropout, self.w) + self.b)

    def accuracy(self, y):
        "Return the accuracy for the mini-batch."
        return pt.mean(pt.eq(y, self.y_out))


class SoftmaxLayer:
    def __init__(self, n_in, n_out, p_dropout=0.0):
        self.n_in = n_in
        self.n_out = n_out
        self.p_dropout = p_dropout
        # Initialize weights and biases
        self.w = pytensor.shared(np.zeros((n_in, n_out), dtype=floatX), name="w", borrow=True)
        self.b = pytensor.shared(np.zeros((n_out,), dtype=floatX), name="b", borrow=True)
        self.params = [self.w, self.b]

    def set_inpt(self, inpt, inpt_dropout, mini_batch_size):
        self.inpt = inpt.reshape((mini_batch_size, self.n_in))
        self.output = pt.special.softmax((1 - self.p_dropout) * pt.dot(self.inpt, self.w) + self.b, axis=-1)
        self.y_out = pt.argmax(self.output, axis=1)
        self.inpt_dropout = dropout_layer(inpt_dropout.reshape((mini_batch_size, self.n_in)), self.p_dropout)
        self.output_dropout = pt.special.softmax(pt.dot(self.inpt_dropout, self.w) + self.b, axis=-1)

    def cost(self, net):
        "Return the log-likelihood cost."
        return -pt.mean(pt.log(self.output_dropout)[pt.arange(net.y.shape[0]), net.y])

    def accuracy(self, y):
        "Return the accuracy for the mini-batch."
        return pt.mean(pt.eq(y, self.y_out))


#### Miscellanea
def _compile_on_first_call(compile_function):
    """A function that is compiled by ``compile_function()`` when first called."""
    compiled = []

    def call(*args):
        if not compiled:
            compiled.append(compile_function())
        return compiled[0](*args)

    return call


def size(data):
    "Return the size of the dataset `data`."
    return data[0].get_value(borrow=True).shape[0]


def draw(distribution, rng, **kwargs):
    """``(next generator, value)`` of one draw from ``distribution`` with generator ``rng``.

    PyTensor 3 returns both when asked (``return_next_rng=True``) and
    deprecates the old form; PyTensor 2.38 (PyMC's line) only has the old
    form, where the next generator is the draw node's first output.
    """
    try:
        return distribution(rng=rng, return_next_rng=True, **kwargs)
    except TypeError:  # PyTensor 2.38: no return_next_rng
        value = distribution(rng=rng, **kwargs)
        return value.owner.outputs[0], value


def dropout_layer(layer, p_dropout):
    """Zero each unit with probability ``p_dropout`` (the identity when it is 0).

    The mask is drawn from a NumPy ``Generator`` held in a shared variable,
    the form of PyTensor random variables that PyTensor 2.38 and 3 share.
    The generator must advance at every training step: the pair
    ``(generator, next generator)`` is attached to the result as
    ``tag.rng_updates`` and added to the training function's updates by
    :meth:`Network.SGD`.
    """
    if p_dropout == 0.0:
        return layer
    seed = np.random.RandomState(SEED).randint(999999)
    rng = pytensor.shared(np.random.default_rng(seed), name="dropout_rng")
    next_rng, mask = draw(pt.random.binomial, rng, n=1, p=1 - p_dropout, size=layer.shape)
    dropped = layer * pt.cast(mask, floatX)
    dropped.tag.rng_updates = [(rng, next_rng)]
    return dropped


#### The main job
def build_network(image_side, mini_batch_size, architecture="conv", hidden=100, filters=20,
                  filter_side=None, p_dropout=0.0):
    """network3's architectures for square images of side ``image_side``.

    ``"conv"``: ConvPoolLayer (ReLU, 2x2 pooling) -> FullyConnectedLayer
    (ReLU) -> SoftmaxLayer, as in chapter 6; ``"mlp"``: one fully connected
    hidden layer (ReLU) -> SoftmaxLayer.  Dropout ``p_dropout`` on the fully
    connected and softmax layers.
    """
    n_pixels = image_side * image_side
    if architecture == "mlp":
        layers = [
            FullyConnectedLayer(n_in=n_pixels, n_out=hidden, activation_fn=ReLU, p_dropout=p_dropout),
            SoftmaxLayer(n_in=hidden, n_out=10, p_dropout=p_dropout),
        ]
    elif architecture == "conv":
        filter_side = filter_side or (3 if image_side <= 8 else 5)
        pooled = (image_side - filter_side + 1) // 2
        layers = [
            ConvPoolLayer(
                image_shape=(mini_batch_size, 1, image_side, image_side),
                filter_shape=(filters, 1, filter_side, filter_side),
                poolsize=(2, 2),
                activation_fn=ReLU,
            ),
            FullyConnectedLayer(n_in=filters * pooled * pooled, n_out=hidden, activation_fn=ReLU, p_dropout=p_dropout),
            SoftmaxLayer(n_in=hidden, n_out=10, p_dropout=p_dropout),
        ]
    else:
        raise ValueError("architecture must be 'conv' or 'mlp', got %r" % architecture)
    return Network(layers, mini_batch_size)


def parse_rule_options(items):
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise argparse.ArgumentTypeError("expected KEY=VALUE, got %r" % item)
        options[key] = float(value)
    return options


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Nielsen's network3.py on PyTensor + symupdates: train a small convolutional "
        "net (or MLP) on scikit-learn's bundled 8x8 digits, or on MNIST from mnist.pkl.gz."
    )
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--mini-batch-size", type=int, default=10, help="mini-batch size (default 10)")
    parser.add_argument("--eta", type=float, default=0.05, help="learning rate (default 0.05)")
    parser.add_argument("--momentum", type=float, default=None,
                        help="classical momentum coefficient (default 0.9 when --rule is momentum or not given)")
    parser.add_argument("--rule", default="momentum",
                        help="update rule from symupdates.RULES (default momentum): sgd, adam, rmsprop, ...")
    parser.add_argument("--rule-option", action="append", metavar="KEY=VALUE",
                        help="another hyperparameter of the rule, e.g. beta1=0.8 (repeatable)")
    parser.add_argument("--lmbda", type=float, default=0.1, help="L2 regularisation parameter (default 0.1)")
    parser.add_argument("--architecture", choices=["conv", "mlp"], default="conv",
                        help="conv: ConvPool(20 filters) -> FC(100) -> softmax; mlp: FC(100) -> softmax")
    parser.add_argument("--hidden", type=int, default=100, help="units of the fully connected layer (default 100)")
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout probability of the FC/softmax layers")
    parser.add_argument("--mnist", metavar="PATH", help="train on MNIST from network3's mnist.pkl.gz instead")
    parser.add_argument("--limit", type=int, default=None,
                        help="use only the first N training images (and N//5 validation/test)")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data split and dropout")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    parser.add_argument("--data-parallel", action="store_true",
                        help="under mpiexec: each process trains on its slice of every mini-batch, "
                        "gradients averaged over the processes; rank 0 prints")
    args = parser.parse_args(argv)
    comm = None
    if args.data_parallel:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
        if comm.Get_rank() != 0:  # one process prints
            sys.stdout = open(os.devnull, "w")
            args.no_progress = True
        if args.mini_batch_size % comm.Get_size():
            parser.error("--mini-batch-size %d does not split over %d processes"
                         % (args.mini_batch_size, comm.Get_size()))
    if args.rule not in symupdates.RULES:
        parser.error("unknown rule %r; choose one of: %s" % (args.rule, ", ".join(symupdates.RULES)))
    if args.epochs < 1 or args.mini_batch_size < 1:
        parser.error("--epochs and --mini-batch-size must be positive")
    try:
        rule_options = parse_rule_options(args.rule_option)
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    momentum = args.momentum
    if args.rule == "momentum" and momentum is None:
        momentum = 0.9
    if momentum is not None and args.rule not in ("momentum", "nesterov_momentum"):
        parser.error("--momentum goes with --rule momentum or nesterov_momentum")

    global SEED
    SEED = args.seed
    np.random.seed(args.seed)
    start = time.time()
    if args.mnist:
        splits = load_data(args.mnist)
        source = "MNIST (%s)" % args.mnist
    else:
        splits = load_digits(seed=args.seed)
        source = "scikit-learn digits"
    if args.limit:
        held_out = max(args.limit // 5, args.mini_batch_size)
        splits = [(x[:n], y[:n]) for (x, y), n in zip(splits, (args.limit, held_out, held_out))]
    training_data, validation_data, test_data = [shared(data) for data in splits]
    n_pixels = training_data[0].get_value(borrow=True).shape[1]
    image_side = int(round(np.sqrt(n_pixels)))
    if image_side * image_side != n_pixels:
        parser.error("images of %d pixels are not square" % n_pixels)
    ranks = 1 if comm is None else comm.Get_size()
    net = build_network(image_side, args.mini_batch_size // ranks, args.architecture, hidden=args.hidden,
                        p_dropout=args.dropout)
    if comm is not None:
        from symupdates.distributed import broadcast_parameters

        net.comm = comm
        broadcast_parameters(net.params, comm=comm)
    print(
        "Training a %s network on %s: %d training, %d validation, %d test images; rule %s, eta %g%s"
        % (
            args.architecture, source, size(training_data), size(validation_data), size(test_data),
            args.rule, args.eta, ", momentum %g" % momentum if momentum is not None else "",
        )
    )
    net.SGD(
        training_data, args.epochs, args.mini_batch_size, args.eta, validation_data, test_data,
        lmbda=args.lmbda, momentum=momentum, rule=args.rule, rule_options=rule_options,
        progress=not args.no_progress,
    )
    print("Total time %.1f s" % (time.time() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
