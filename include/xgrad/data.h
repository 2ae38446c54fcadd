#pragma once
// data/: datasets, the data loader and image transforms (PyTorch's torch.utils.data and
// torchvision.transforms rules), the IDX reader with the MNIST / Fashion-MNIST splits and class
// names, and the MNIST-1D generator.
#include "xgrad/data/data_loader.h"
#include "xgrad/data/dataset.h"
#include "xgrad/data/idx.h"
#include "xgrad/data/mnist.h"
#include "xgrad/data/mnist1d.h"
#include "xgrad/data/transforms.h"
