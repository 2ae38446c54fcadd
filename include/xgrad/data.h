#pragma once
// data/: datasets, the data loader and image transforms (PyTorch's torch.utils.data and
// torchvision.transforms rules).
#include "xgrad/data/data_loader.h"
#include "xgrad/data/dataset.h"
#include "xgrad/data/transforms.h"
