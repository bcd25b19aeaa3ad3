// Parsing CSV rows on a background thread, handed over in bounded batches.
#include "agent/tokenize/csv_batch_reader.h"

namespace sdp {

CsvBatchReader::CsvBatchReader(CsvTable* table, size_t batch_rows, size_t depth)
    : table_(table), batch_rows_(batch_rows) {
  for (size_t i = 0; i < depth; ++i) {
    auto batch = std::make_unique<RowBatch>();
    batch->rows.resize(batch_rows);
    batch->lines.resize(batch_rows);
    free_.push_back(std::move(batch));
  }
  thread_ = std::thread([this] { Run(); });
}

CsvBatchReader::~CsvBatchReader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void CsvBatchReader::Run() {
  for (;;) {
    std::unique_ptr<RowBatch> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !free_.empty(); });
      if (stop_) return;
      batch = std::move(free_.back());
      free_.pop_back();
    }
    batch->size = 0;
    std::string err;
    bool eof = false;
    while (batch->size < batch_rows_) {
      CsvRow& row = batch->rows[batch->size];
      if (!table_->Next(&row, &err)) {
        eof = true;
        break;
      }
      batch->lines[batch->size] = table_->reader()->line();
      ++batch->size;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      bytes_read_ = table_->reader()->bytes_read();
      if (batch->size > 0) ready_.push_back(std::move(batch));
      if (eof) {
        error_ = err;
        done_ = true;
      } else if (batch) {
        free_.push_back(std::move(batch));  // not reached: a non-eof batch is full and queued
      }
    }
    cv_.notify_all();
    if (eof) return;
  }
}

const RowBatch* CsvBatchReader::Next(std::string* err) {
  std::unique_lock<std::mutex> lock(mu_);
  if (current_) free_.push_back(std::move(current_));
  cv_.notify_all();
  cv_.wait(lock, [this] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    current_ = std::move(ready_.front());
    ready_.pop_front();
    return current_.get();
  }
  *err = error_;
  return nullptr;
}

std::unique_ptr<RowBatch> CsvBatchReader::Take(std::string* err) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !ready_.empty() || done_; });
  if (!ready_.empty()) {
    std::unique_ptr<RowBatch> batch = std::move(ready_.front());
    ready_.pop_front();
    return batch;
  }
  *err = error_;
  return nullptr;
}

void CsvBatchReader::Recycle(std::unique_ptr<RowBatch> batch) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(std::move(batch));
  }
  cv_.notify_all();
}

uint64_t CsvBatchReader::bytes_read() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_read_;
}

}  // namespace sdp
