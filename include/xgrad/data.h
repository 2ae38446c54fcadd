#pragma once
// data/: datasets as plain tensors. The IDX reader with the MNIST / Fashion-MNIST splits and class
// names, and the MNIST-1D generator.
#include "xgrad/data/idx.h"
#include "xgrad/data/mnist1d.h"
